"""The `shuzhi` command line: parse, call a service, print (rich, Chinese) or emit JSON."""
