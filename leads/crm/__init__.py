"""The loop with the team's CRM: the record ids a company has there, scores written back in each
CRM's import shape, won and lost deals read in as outcomes, and webhooks."""
