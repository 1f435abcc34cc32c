"""Portfolio reporting: a loan book seen through the carbon-efficiency grade (PCAF metrics)."""
