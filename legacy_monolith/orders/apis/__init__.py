"""HTTP views of the orders app: parse input, call one service or selector, render the contract's JSON."""
