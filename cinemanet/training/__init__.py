"""Training and evaluation of concept heads, reusing perception and concepts."""
