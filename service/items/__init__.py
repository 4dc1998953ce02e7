"""The example domain: items with a name, a description and a price."""
