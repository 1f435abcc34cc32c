"""The web console for credit officers, lender risk and regulators (docs/console.md)."""
