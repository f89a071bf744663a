"""A throwaway service built on the chassis only, for the chassis's own tests."""
