"""Estuary Checkout: payments and checkout for the Estuary wellness marketplace."""
