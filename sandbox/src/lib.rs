//! box-sandbox: a local server that speaks the Box API subset box-mcp uses.
