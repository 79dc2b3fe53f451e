"""The versioned REST API (v1). Views are thin: they validate, call services and selectors."""
