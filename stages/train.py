"""Stage 3 launcher: python stages/train.py fit --config conf/train.yaml [overrides]"""

from crmot.stages.train import main

if __name__ == "__main__":
    main()
