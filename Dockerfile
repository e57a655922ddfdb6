# The Airflow image of the deployment: Airflow 3.3.2 plus this project, from the same lock as development.
# The build context is the checkout minus .dockerignore: no .env, no drops/ (real source drops hold
# personal data) and no .local/ state get into the image; the build fails if one did.
FROM apache/airflow:3.3.2-python3.11
USER root
COPY --chown=airflow:root . /opt/welfare
RUN for p in .env drops .local; do \
      if [ -e "/opt/welfare/$p" ]; then echo "$p is in the build context: fix .dockerignore" >&2; exit 1; fi; \
    done
USER airflow
RUN pip install --no-cache-dir "uv==0.13.8" \
 && cd /opt/welfare \
 && uv export --frozen --no-dev --no-emit-project --no-hashes -o /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && pip install --no-cache-dir --no-deps -e /opt/welfare \
 && mkdir -p -m 700 /opt/welfare/home
WORKDIR /opt/welfare
