"""The walkthroughs of docs/make-it-yours.md, followed in a copy of the working tree."""
