"""Pulumi entry point of the bootstrap project: config in, resources out."""

import sys
from pathlib import Path

# Pulumi runs this file with bootstrap/ as the script directory; the shared
# IAM helpers live in the repository root's `infra` package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bootstrap.config import BootstrapConfig
from bootstrap.program import build

build(BootstrapConfig.load())
