"""Other libraries' private internals: one module per library, so a release breaks one file."""
