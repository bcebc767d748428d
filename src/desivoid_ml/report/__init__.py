"""`desivoid report`: an HTML page of figures and tables about one trained run."""
