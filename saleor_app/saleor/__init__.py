"""Everything Saleor: manifest, register, webhook signatures, Dashboard tokens, GraphQL and the gateway."""
