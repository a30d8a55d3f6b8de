"""Where the project's files are, and how jsii finds a supported Node.js."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOCAL_NODE = PROJECT_ROOT / ".node" / "node_modules" / ".bin" / "node"


def configure_jsii_node() -> None:
    """Point jsii at the project's Node 22 (if installed) and silence its version banners.

    Must run before `aws_cdk` is imported: jsii starts its Node kernel at import.
    """
    if "JSII_NODE" not in os.environ and LOCAL_NODE.exists():
        os.environ["JSII_NODE"] = str(LOCAL_NODE)
    node = os.environ.get("JSII_NODE", "node")
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", _node_major(node))
    os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    os.environ.setdefault("JSII_DEPRECATED", "quiet")


def _node_major(node: str) -> str:
    try:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "20"
    return version.strip().lstrip("v").split(".")[0] or "20"
