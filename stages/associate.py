"""Stage 2 launcher: python stages/associate.py predict --config conf/associate.yaml [overrides]"""

from crmot.stages.associate import main

if __name__ == "__main__":
    main()
