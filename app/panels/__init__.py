"""One sub-package per dock the user sees; panels never import each other."""
