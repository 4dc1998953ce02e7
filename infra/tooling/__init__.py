"""Offline tooling around the program: the mocks harness, ``make plan`` and the
generated references. Nothing here is imported by the program itself."""
