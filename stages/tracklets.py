"""Stage 1 launcher: python stages/tracklets.py predict --config conf/tracklets.yaml [overrides]"""

from crmot.stages.tracklets import main

if __name__ == "__main__":
    main()
