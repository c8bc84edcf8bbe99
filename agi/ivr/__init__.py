"""The 12345 IVR: data-driven flows, the prompt catalog, and the flow runners."""
