"""Tests of the delivery pipeline: workflows, checkov wrapper, bootstrap program."""
