"""LoanScoring: quotes, decisions, explanations; calls the registry over gRPC."""
