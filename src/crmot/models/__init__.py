"""Model builders with real checkpoint loading (no hub access at run time) and weight-free test builds."""
