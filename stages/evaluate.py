"""Stage 4 launcher: python stages/evaluate.py predict --config conf/evaluate.yaml [overrides]"""

from crmot.stages.evaluate import main

if __name__ == "__main__":
    main()
