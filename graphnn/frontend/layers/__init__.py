"""torch -> IR mapping rules, one module per op family (loaded by graphnn.frontend)."""
