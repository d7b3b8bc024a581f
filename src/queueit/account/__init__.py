"""The caller's own account: deletion (DELETE /api/v1/me)."""
