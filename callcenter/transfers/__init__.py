"""Transfers and three-party calls of a call at a seat: where an agent may send a
caller (targets.py, the one whitelist the dialplan is rendered from too) and the
service that drives them over AMI (service.py)."""
