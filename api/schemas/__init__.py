"""Request and response bodies of the API that are big enough to deserve their own
module (small ones live next to their route)."""
