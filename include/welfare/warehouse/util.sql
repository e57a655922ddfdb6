-- Helper functions the validation rules and the typed raw load share.
-- Idempotent: safe to run on every start.
create schema if not exists util;

-- A Thai national id: 13 digits, digit 13 = (11 - sum(d_i * (14 - i)) mod 11) mod 10.
create or replace function util.national_id_ok(value text) returns boolean
language sql immutable parallel safe as $$
  select value ~ '^[0-9]{13}$'
     and (11 - (
            (substr(value, 1, 1)::int * 13) + (substr(value, 2, 1)::int * 12)
          + (substr(value, 3, 1)::int * 11) + (substr(value, 4, 1)::int * 10)
          + (substr(value, 5, 1)::int * 9)  + (substr(value, 6, 1)::int * 8)
          + (substr(value, 7, 1)::int * 7)  + (substr(value, 8, 1)::int * 6)
          + (substr(value, 9, 1)::int * 5)  + (substr(value, 10, 1)::int * 4)
          + (substr(value, 11, 1)::int * 3) + (substr(value, 12, 1)::int * 2)
         ) % 11) % 10 = substr(value, 13, 1)::int
$$;

-- dd/mm/yyyy in the Buddhist Era -> date; NULL when it does not name a real day
-- or the year is below 2400 (a Common-Era year typed into a Buddhist-Era field).
-- Plain SQL (inlined by the planner, no plpgsql call per row); CASE and AND evaluate
-- in order, so make_date only ever sees a real day.
create or replace function util.be_date(value text) returns date
language sql immutable parallel safe as $$
  select case
    when value ~ '^[0-9]{2}/[0-9]{2}/[0-9]{4}$'
     and substr(value, 7, 4)::int >= 2400
     and substr(value, 4, 2)::int between 1 and 12
     and substr(value, 1, 2)::int between 1 and extract(day from (
           make_date(substr(value, 7, 4)::int - 543, substr(value, 4, 2)::int, 1) + interval '1 month - 1 day'))::int
    then make_date(substr(value, 7, 4)::int - 543, substr(value, 4, 2)::int, substr(value, 1, 2)::int)
  end
$$;

-- yyyy-mm-dd -> date; NULL when it does not name a real day.
create or replace function util.iso_date(value text) returns date
language sql immutable parallel safe as $$
  select case
    when value ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'
     and substr(value, 1, 4)::int >= 1
     and substr(value, 6, 2)::int between 1 and 12
     and substr(value, 9, 2)::int between 1 and extract(day from (
           make_date(substr(value, 1, 4)::int, substr(value, 6, 2)::int, 1) + interval '1 month - 1 day'))::int
    then make_date(substr(value, 1, 4)::int, substr(value, 6, 2)::int, substr(value, 9, 2)::int)
  end
$$;

-- Removed functions (a warehouse bootstrapped by an older version still has them).
drop function if exists util.try_jsonb_object(text);
