"""Call records (one per (PBX node, Linkedid)) and the KPIs computed from them."""
