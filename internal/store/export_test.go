package store

// ContributionsPersonIndex lets the benchmark give its plain baseline table the projection's person index.
const ContributionsPersonIndex = contributionsPersonIndex
