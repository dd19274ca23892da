"""EDI X12 with wholesale partners: 856 ship notices in, 846 advice out, 997s both ways."""
