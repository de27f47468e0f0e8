"""Schedule feeds from practice systems: HL7 v2 SIU messages, and the code tables they map through."""
