"""The domain rules of 述职评议考核: pure, standard library and `transitions` only."""
