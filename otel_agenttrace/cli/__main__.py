"""`python -m otel_agenttrace.cli`, the same as the `agenttrace` console script."""

from otel_agenttrace.cli import main

if __name__ == "__main__":
    main()
