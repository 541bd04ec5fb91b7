"""The `.rules` language: grammar, parser, AST, checks, units and compiler."""
