"""The live state of every PBX node, rebuilt from AMI events (see state.py)."""
