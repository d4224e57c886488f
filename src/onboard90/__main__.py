"""`python -m onboard90` is the same as the `onboard90` console script."""

from onboard90.cli import main

if __name__ == "__main__":
    main()
