"""callmip."""
