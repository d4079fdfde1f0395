"""Promotion mechanisms: how freight gets into a stage (pin, none, branches, image updates, Apps)."""
