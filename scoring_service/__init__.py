"""LoanScoring (quotes, decisions, explanations) and, later, PortfolioReporting; calls the registry over gRPC."""
