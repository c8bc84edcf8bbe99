"""Seats (agents) and queues: login/pause over AMI, seat state, sessions, queue views,
routing policy and callbacks."""
