package store

const Dir = "state"
