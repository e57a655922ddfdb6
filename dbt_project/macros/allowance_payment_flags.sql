{#-
  G.3's improper-payment flags for the payments in the CTE named `payments` (rows of
  int_allowance_payments_current), read against the person register. Emits CTEs ending in
  `flagged`; the caller opens the WITH and selects from it. Used by int_allowance_payments_flagged for
  every payment, or on a nightly run every payment of the persons it must re-flag (a person's
  payments are always flagged together, since a duplicate is decided among them); kept apart so
  the two branches of that model share one statement of the rules.
    paid_after_death:  the period's month starts after died_on (died 2021-06-01: June proper, July not);
    duplicate_payment: per national_id, allowance_type and period, every payment but the earliest
                       by paid_on then payment_id;
    underage_elderly:  an ELDERLY payment to a person under 60 on the first day of the period
                       (unknown birth date: never underage).
  It also carries is_linked for S1.2: the person is in the register through a current record of
  another person-bearing extract than allowance_payments.

  person_state_hash(p): what of a register row (alias p) the flags and is_linked read, hashed; the
  fact keeps it per payment and re-flags a person's payments when the register's differs.
-#}
{% macro person_state_hash(p) -%}
md5(coalesce({{ p }}.birth_date::text, '') || '|' || coalesce({{ p }}.died_on::text, '') || '|'
        || exists (select 1 from unnest({{ p }}.sources) as s (source_name) where s.source_name <> 'allowance_payments')::text)
{%- endmacro %}

{% macro allowance_payment_flags(payments='payments') -%}
flag_persons as (
    select
        national_id,
        person_key,
        birth_date,
        died_on,
        exists (select 1 from unnest(sources) as s (source_name) where s.source_name <> 'allowance_payments')
            as is_linked,
        {{ person_state_hash('p') }} as person_state_hash
    from {{ ref('int_person_register') }} as p
),

flag_authorities as (
    select lao_code, district_code from {{ ref('int_local_authority_areas') }}
),

flag_ranked as (
    select
        p.*,
        row_number() over (
            partition by p.national_id, p.allowance_type, p.period
            order by p.paid_on nulls last, p.payment_id
        ) as rank_in_period
    from {{ payments }} as p
    where util.national_id_ok(p.national_id)
),

flag_rows as (
    select
        r.payment_id,
        r.national_id,
        r.person_key,
        r.lao_code,
        a.district_code,
        r.allowance_type,
        r.period,
        r.period_month,
        {{ fiscal_year_of('r.period_month') }} as fiscal_year,
        r.amount,
        r.paid_on,
        r.extracted_on,
        r.load_id,
        coalesce(pe.died_on is not null and r.period_month > pe.died_on, false) as is_paid_after_death,
        r.rank_in_period > 1 as is_duplicate,
        coalesce(
            r.allowance_type = 'ELDERLY' and pe.birth_date is not null
            and extract(year from age(r.period_month, pe.birth_date)) < 60,
            false
        ) as is_underage_elderly,
        coalesce(pe.is_linked, false) as is_linked,
        pe.person_state_hash
    from flag_ranked as r
    left join flag_persons as pe on r.national_id = pe.national_id
    left join flag_authorities as a on r.lao_code = a.lao_code
),

flagged as (
    select
        *,
        (is_paid_after_death or is_duplicate or is_underage_elderly) as is_improper,
        nullif(concat_ws(', ',
            case when is_paid_after_death then 'paid_after_death' end,
            case when is_duplicate then 'duplicate_payment' end,
            case when is_underage_elderly then 'underage_elderly' end
        ), '') as improper_reasons
    from flag_rows
)
{%- endmacro %}
