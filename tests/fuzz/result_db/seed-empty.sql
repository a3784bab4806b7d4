INSERT INTO meta VALUES('experiment','e');
