// Package cloudformation is a fake of the engine package: it keeps the rule of
// internal/export, importing nothing.
package cloudformation
