"""The `.rules` language: grammar, parser, AST, checks, units and compiler."""

from __future__ import annotations

from centinela.dsl.pipeline import check_paths, check_source, compile_paths, compile_source

__all__ = ["check_paths", "check_source", "compile_paths", "compile_source"]
