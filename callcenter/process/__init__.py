"""The composition root: builds the process from every layer below, starts and supervises
its tasks (`callcenter serve`), seeds the demo, and holds the `callcenter` command line.
Nothing imports it."""
