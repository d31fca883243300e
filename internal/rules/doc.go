// Package rules holds the business rules (业务规则) as data and the pure calculations that derive values from
// raw facts (R6.4): contribution bases and amounts, personal-account credits and interest, contribution months,
// the average contribution index, pensions at retirement, retirement ages and late fees. It does no I/O beyond
// parsing the bytes it is given, and no float touches money: amounts are record.Fen, rates are exact Rate
// values (billionths), indexes are big.Rat, and rounding happens once, where the rules say, by the set's rule.
//
// # Rule sets
//
// A rule set (Set) is a TOML document with a version, a region (6-digit code; "000000" is national) and the
// month it takes effect. The built-in national default (national.toml, Default) states every rule with the
// values of the reference; other sets state only what they change. A Book holds the sets adopted so far:
// Book.At(region, period) merges, in order, the national sets, the province's (R[:2]+"0000"), the prefecture's
// (R[:4]+"00") and the region's own, each level's sets effective on or before the period applied oldest first,
// and returns a complete Set. Tables keyed by year, age, class or month merge key by key. Canonical gives a
// set's deterministic encoding, for the ruleset.adopted event; ParseSet reads it back to an equal set.
//
// The format, briefly (FORMAT.md has every field, its default and its rule):
//
//	version = "beijing-2025.1"        # identity: region + effective_from + version
//	region = "110000"
//	effective_from = "2025-07"        # YYYY-MM
//	title = "…"                       # optional
//	rounding = "half_up"              # amounts to the fen: half_up | truncate
//
//	[contribution_base]               # 缴费基数: explicit floor/ceiling (yuan), or derived from an average wage
//	floor = "7162"                    #   floor, ceiling
//	ceiling = "35811"                 #   average_wage_annual | average_wage_monthly, floor_percent, ceiling_percent,
//	                                  #   round = yuan_half_up | yuan_truncate | yuan_up | fen_half_up | …
//	[rates.pension]                   # per type: pension, medical, unemployment, work_injury, maternity
//	employer = "16%"                  #   rates as "16%" or "0.16", exact
//	individual = "8%"
//	[work_injury_classes]             # industry class 1–8 → employer rate
//	[account]                         # interest_method = annual | monthly; unpublished_rate = error | previous | nearest
//	[account.credit_ratio]            # "YYYY-MM" era start → share of the base credited
//	[account.crediting_rates]         # year → crediting rate (记账利率)
//	[pension]                         # age_months = whole_age | linear
//	[pension.transitional]            # formula = none | c_i_deemed | c_1pi_half_deemed; coefficient
//	[pension.payout_months]           # age → payout months (计发月数)
//	[retirement.male]                 # and female_55, female_50: start_birth, original_age, max_delay_months,
//	                                  #   birth_months_per_delay_month
//	[min_contribution]                # months, increase_from_year, increase_months_per_year, max_months
//	[late_fee]                        # daily_rate
//	[average_wages]                   # year → monthly average wage for the contribution index
//	[benefit_wages]                   # year → 计发基数 C
//
// Money is written as quoted yuan ("7162", "5448.58"); a float anywhere is refused. Unknown keys are errors.
// Every error is a *record.Error naming the TOML field path and the rule it broke.
//
// # Calculations
//
// Per month: Set.Base clamps a wage to the floor and ceiling; Set.Contribution gives the employer and
// individual amounts (base × rate, rounded once); Set.AccountCredit the account credit (base × the era's credit
// ratio); Set.LateFee the late fee. Per year: YearEnd applies the annual or monthly interest method exactly and
// rounds once at year end; Book.Balances runs an account over years with transfers in and out. Per person:
// Deriver.Derive (or DerivePerson) computes everything the projections need from one person's raw facts.
// At retirement: Set.RetirementFor, Set.PayoutMonths, Set.Pension, Set.Eligible. Calc exposes the
// calculators pension, account, contribution and retirement over JSON for the CLI and the HTTP API.
package rules
